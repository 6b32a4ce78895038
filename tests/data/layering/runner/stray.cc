// Fixture (never compiled): a product file directly in runner/, in no layer.
