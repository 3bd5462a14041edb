"""The job runtime: job types, the context handlers see, the service that runs them, the change feed."""
