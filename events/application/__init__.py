"""The application service: lock, decide, append, project and remember
(service.py), and the list as it was at any point of the log (history.py)."""
