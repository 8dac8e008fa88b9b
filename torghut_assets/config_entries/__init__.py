"""The declarations of `config_registry`, one module per area (deployment, sources, trading, execution,
safety, governance, LLM), so a change to one area's variables is reviewed beside that area's neighbours.
The registry itself, and the lookups everything reads through, stay in `torghut_assets/config_registry.py`.
"""
