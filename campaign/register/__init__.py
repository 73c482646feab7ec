"""The register of elected officials (RNE): loading it, matching names, verifying signatures."""
