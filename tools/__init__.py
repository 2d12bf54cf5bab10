"""Developer tools: building real container images for tests and the demo."""
