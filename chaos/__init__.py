"""The fault matrix and the soak: kill -9 each service mid-stream, do nothing, and count what landed."""
