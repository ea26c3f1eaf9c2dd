"""The register of GB battery BM units with VLP status, and its export."""
