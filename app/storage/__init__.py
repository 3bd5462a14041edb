"""Database models, queries and the managed file store. Never imports NiceGUI."""
