"""The desktop editor (PySide6 + pyqtgraph). It imports core; core never imports it."""
