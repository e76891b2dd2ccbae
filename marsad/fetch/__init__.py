"""Fetch stage: discover article URLs in feeds, sitemaps and homepages, then fetch them politely.

`http` (limits, errors, the client), `body` (bounded reading and inflation), `session` (what a
batch shares: redirects, robots.txt, the SSRF guard, WARC, validators), `discovery` and
`articles` are plain async code; the Prefect tasks that run them live in `tasks/`.
"""
