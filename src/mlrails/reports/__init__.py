"""Reports: SVG charts and self-contained HTML pages."""
