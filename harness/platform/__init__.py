"""From gate to platform: the Flow API client, `pull`, the gated release (`deploy`) and `drift`.

- :mod:`harness.platform.client`: the Flow API client (one deadline per request, bounded
  retries, read back before repeating a write);
- :mod:`harness.platform.credentials`: its settings and OAuth2 client-credentials token;
- :mod:`harness.platform.retry`: its retry budget; :mod:`harness.platform.errors`: what
  can go wrong, by exit code;
- :mod:`harness.platform.tenant`: what the tenant holds, fetched with the SubFlows it needs;
- :mod:`harness.platform.depends`: step dependencies between flows (SubFlow ids and variables);
- :mod:`harness.platform.release`: plan, gate, PUT in dependency order, read back, roll back;
- :mod:`harness.platform.pull` and :mod:`harness.platform.drift`: the other two commands.
"""
