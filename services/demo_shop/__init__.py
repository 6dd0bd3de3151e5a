"""Demo shop: a browsable storefront over the catalog with a live recommendation panel."""
