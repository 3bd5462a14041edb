"""NiceGUI pages and HTTP routes. Pages get the Services handed in and never touch SQL directly."""
