"""Reports and errors turned into text (rich, plain, JSON), in one place."""
