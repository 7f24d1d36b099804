"""Performance: quality metrics in numpy, business KPIs, and the scheduled check."""
