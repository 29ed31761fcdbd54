"""einvoice: intake pipeline for electronic invoices (XRechnung, ZUGFeRD / Factur-X)."""

__version__ = "0.1.0"
