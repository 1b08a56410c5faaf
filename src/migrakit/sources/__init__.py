"""Folders on disk into Migration values: journal and v1 folders, consolidated, legacy, git."""
