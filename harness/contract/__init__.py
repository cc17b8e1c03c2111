"""Consumer and provider contracts, and the pre-release gate.

Public API (import from the modules; this package imports nothing heavy on its own):
``openapi.load_spec`` / ``parse_spec`` -> ``Spec``; ``consumer.check_consumer`` ->
``ConsumerReport``; ``provider.run_provider`` -> ``ProviderReport``; ``gate.run_gate`` ->
``GateResult``; click commands in ``cli``. See docs/contracts.md.
"""
