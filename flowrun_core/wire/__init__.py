"""The wire layer: request bytes in, Prefect's status code and JSON out."""
