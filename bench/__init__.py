"""The benchmarks: scripts run as `python bench/NAME.py`; `common` is what they share."""
