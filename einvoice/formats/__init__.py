"""Reading documents: detection, hardened XML parsing, and one reader per syntax."""
