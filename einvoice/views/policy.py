"""What our pages may do in a browser: show themselves, nothing else.

Pages carry supplier text (seller names, invoice numbers, file names, findings). Jinja2 escapes
it; this policy is the second wall should anything slip through: no script, no request to
anywhere (images, fonts, frames, forms to other sites), no ``<base>``, no framing by other
sites. Styles are inline in every page (``'unsafe-inline'``: a style cannot run code or, with
everything else forbidden, fetch anything). The pages written to files carry it as a ``<meta>``
(``templates/_policy.html``, kept equal by a test), Chromium puts it in front of every page it
renders (``chromium``), and the upload server sends it with every response (``HEADERS``).
"""

from __future__ import annotations

PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
               "form-action 'self'")
HEADERS = {  # on every HTTP response, HTML, JSON and errors alike
    "Content-Security-Policy": f"{PAGE_POLICY}; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
POLICY_META = f'<meta http-equiv="Content-Security-Policy" content="{PAGE_POLICY}">'
