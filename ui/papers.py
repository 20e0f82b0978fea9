"""The papers the lab reproduces: one record each, read by the home page (list, status, BibTeX)
and by every page's explanation box (`cite`). A citation is written here and nowhere else."""

from __future__ import annotations

PAPERS = {
    "wang_wu": {
        "short": "Wang & Wu 2023",
        "authors": "Zihao Wang and Lei Wu",
        "title": "Theoretical Analysis of Inductive Biases in Deep Convolutional Networks",
        "venue": "NeurIPS 2023",
        "arxiv": "2305.08404",
        "shows": "Deep CNNs that combine multichanneling and downsampling are universal at depth "
                 "O(log d) and, on a separation task, learn from Õ(log² d) samples, where "
                 "locally connected networks need Ω(d) and fully connected ones Ω(d²).",
        "page": "Universality",
        "bibtex": "wang2023inductive",
        "booktitle": "Advances in Neural Information Processing Systems (NeurIPS)",
        "year": 2023,
    },
    "xiao": {
        "short": "Xiao 2022",
        "authors": "Lechao Xiao",
        "title": "Eigenspace Restructuring: a Principle of Space and Frequency in Neural Networks",
        "venue": "COLT 2022",
        "arxiv": "2112.05611",
        "shows": "MLP kernels rank eigenfunctions by frequency alone; hierarchical CNN kernels split "
                 "each frequency by spatial spread, so local high-frequency and long-range "
                 "low-frequency interactions both become learnable.",
        "page": "Eigenstructure",
        "bibtex": "xiao2022eigenspace",
        "booktitle": "Conference on Learning Theory (COLT)",
        "year": 2022,
    },
    "bietti_bach": {
        "short": "Bietti & Bach 2021",
        "authors": "Alberto Bietti and Francis Bach",
        "title": "Deep Equals Shallow for ReLU Networks in Kernel Regimes",
        "venue": "ICLR 2021",
        "arxiv": "2009.14397",
        "shows": "On the sphere, deep ReLU NTK and NNGP kernels have eigenvalues decaying at the same "
                 "polynomial rate as two-layer ones ($k^{-d}$ and $k^{-(d+2)}$): depth changes "
                 "only the constant.",
        "page": "Eigenstructure",
        "bibtex": "bietti2021deep",
        "booktitle": "International Conference on Learning Representations (ICLR)",
        "year": 2021,
    },
    "safran_lee": {
        "short": "Safran & Lee 2022",
        "authors": "Itay Safran and Jason D. Lee",
        "title": "Optimization-Based Separations for Neural Networks",
        "venue": "COLT 2022",
        "arxiv": "2112.02393",
        "shows": "Gradient descent on a two-hidden-layer sigmoidal network learns a ball indicator "
                 "efficiently, while one hidden layer of non-linearities stays at a constant error "
                 "on some radial distributions: a depth separation reached by optimisation.",
        "page": "Depth separation",
        "bibtex": "safran2022optimization",
        "booktitle": "Conference on Learning Theory (COLT)",
        "year": 2022,
    },
    "mori_ueda": {
        "short": "Mori & Ueda 2022",
        "authors": "Takashi Mori and Masahito Ueda",
        "title": "Interplay between Depth of Neural Networks and Locality of Target Functions",
        "venue": "arXiv preprint",
        "arxiv": "2201.12082",
        "shows": "Depth helps on k-local labels and hurts on k-global ones, and the NTK of the same "
                 "networks does not reproduce this: feature learning matters.",
        "page": "Learning curves",
        "bibtex": "mori2022interplay",
        "booktitle": None,
        "year": 2022,
    },
}
"""The five papers the pages reproduce, in the home page's order."""

SUPPORTING = {
    "simon": {
        "authors": "James B. Simon, Madeline Dickens, Dhruva Karkada and Michael R. DeWeese",
        "title": "The Eigenlearning Framework", "venue": "TMLR 2023", "arxiv": "2110.03922",
    },
    "bordelon": {
        "authors": "Blake Bordelon, Abdulkadir Canatar and Cengiz Pehlevan",
        "title": "Spectrum Dependent Learning Curves in Kernel Regression and Wide Neural Networks",
        "venue": "ICML 2020", "arxiv": "2002.02561",
    },
    "jacot": {
        "authors": "Arthur Jacot, Franck Gabriel and Clément Hongler",
        "title": "Neural Tangent Kernel: Convergence and Generalization in Neural Networks",
        "venue": "NeurIPS 2018", "arxiv": "1806.07572",
    },
    "lee": {
        "authors": "Jaehoon Lee, Lechao Xiao, Samuel S. Schoenholz, Yasaman Bahri, Roman Novak, "
                   "Jascha Sohl-Dickstein and Jeffrey Pennington",
        "title": "Wide Neural Networks of Any Depth Evolve as Linear Models Under Gradient Descent",
        "venue": "NeurIPS 2019", "arxiv": "1902.06720",
    },
    "neural_tangents": {
        "authors": "Roman Novak, Lechao Xiao, Jiri Hron, Jaehoon Lee, Alexander A. Alemi, "
                   "Jascha Sohl-Dickstein and Samuel S. Schoenholz",
        "title": "Neural Tangents: Fast and Easy Infinite Neural Networks in Python",
        "venue": "ICLR 2020", "arxiv": "1912.02803", "bibtex": "novak2020neural",
        "booktitle": "International Conference on Learning Representations (ICLR)", "year": 2020,
    },
}
"""Papers a page's theory rests on (eigenlearning, the NTK and its linearised dynamics) and the
reference implementation."""


def cite(*keys: str) -> str:
    """Markdown citations of `keys` (of `PAPERS` or `SUPPORTING`), joined by semicolons: authors,
    *title*, venue, and the arXiv link. A preprint shows its year after the link."""
    parts = []
    for key in keys:
        paper = PAPERS.get(key) or SUPPORTING[key]
        link = f"[arXiv:{paper['arxiv']}](https://arxiv.org/abs/{paper['arxiv']})"
        venue = "" if paper["venue"] == "arXiv preprint" else f"{paper['venue']}, "
        year = f" ({paper['year']})" if not venue else ""
        parts.append(f"{paper['authors']}, *{paper['title']}*, {venue}{link}{year}")
    return "; ".join(parts)


def bibtex(paper: dict) -> str:
    """A BibTeX entry for a record of `PAPERS` (or `SUPPORTING["neural_tangents"]`): an arXiv
    article when it has no `booktitle`."""
    authors = " and ".join(_last_first(name) for name in _split_authors(paper["authors"]))
    if paper["booktitle"] is None:
        kind, venue = "article", f"  journal   = {{arXiv preprint arXiv:{paper['arxiv']}}},\n"
    else:
        kind, venue = "inproceedings", f"  booktitle = {{{paper['booktitle']}}},\n"
    return (f"@{kind}{{{paper['bibtex']},\n"
            f"  title     = {{{paper['title']}}},\n"
            f"  author    = {{{authors}}},\n"
            f"{venue}"
            f"  year      = {{{paper['year']}}},\n"
            f"  eprint    = {{{paper['arxiv']}}},\n"
            f"  archivePrefix = {{arXiv}},\n"
            f"}}")


def _split_authors(authors: str) -> list[str]:
    names = authors.replace(" and ", ", ").split(", ")
    return [name.strip() for name in names if name.strip()]


def _last_first(name: str) -> str:
    first, _, last = name.rpartition(" ")
    return f"{last}, {first}" if first else last
