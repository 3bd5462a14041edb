"""Job Management: a live dashboard for background jobs."""
