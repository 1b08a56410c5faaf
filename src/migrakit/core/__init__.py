"""Pure logic: text and data in, data out; no driver, no files, no terminal."""
