"""HTML reports: figures from records (figures.py) and page assembly (html.py)."""
