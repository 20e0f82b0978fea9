"""Plotly figures, tables and CSV built from the engine's results: one module per page. No Streamlit
(pages draw what these return) and no JAX (results arrive as numpy arrays)."""
