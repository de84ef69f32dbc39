"""HTML reports: figures from records (``figures``, pure), the first screen (``overview``),
case tables (``cases``), page assembly and the reports folder's index (``html``), the
shared page pieces (``markup``), the profile page (``profile_page``) and the headless
browser that tests pages (``browser``).

It imports ``profiling`` and every layer below it; only ``cli`` imports it.
"""
