"""Validation like the official KoSIT validator: scenarios pick XML Schema and rule packs,
findings get an effective level, and the verdict follows from them."""
