"""Mining converter issues from GitHub, with the evidence that decides "closed with a fix".

``convfail mine issues`` crawls a repository's issues (GraphQL with a token, REST without),
``mine sample`` draws a seeded study from the records, ``mine hydrate`` fills a study's issues
with bodies and comments, ``mine validate`` scores the fix rules against hand judgements. The
records themselves are the border file ``data/issues/<owner>__<repo>.jsonl``, defined once in
:mod:`convfail.issue_records`.

Modules, each with one job:

- :mod:`mining.cli` — the ``convfail mine`` commands: parse options, call one function, print;
- :mod:`mining.session` — a miner wired from the command's choices (token, API, archive, state);
- :mod:`mining.auth` — where the token comes from (``GITHUB_TOKEN``, ``gh auth token``);
- :mod:`mining.transport` — the one HTTP session: retries, rate limits, ETags, the archive;
- :mod:`mining.archive` — raw exchanges (token stripped) for offline ``--replay``;
- :mod:`mining.queries`, :mod:`mining.schema` — the GraphQL documents and GitHub's schema;
- :mod:`mining.miner` — full and incremental crawls, resume, hydration;
- :mod:`mining.normalize` — API payloads ▸ records with typed evidence events;
- :mod:`mining.rules` — the fix rules (``issta24``, ``strict``), pure functions;
- :mod:`mining.store` — the miner's state (records, cursors, watermarks, ETags) in SQLite;
- :mod:`mining.scope`, :mod:`mining.studies`, :mod:`mining.validation` — what to mine, the
  study files a sample or a hydration writes, precision and recall of the rules;
- :mod:`mining.testing` — a fake GitHub on 127.0.0.1 for the tests and the benchmark.
"""
