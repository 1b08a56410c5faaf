"""One recipe per command over the layers below; no workflow calls another workflow."""
