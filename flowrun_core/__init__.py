"""flowrun-core: Prefect 3.9.1's Create Flow Run From Deployment, in process."""
