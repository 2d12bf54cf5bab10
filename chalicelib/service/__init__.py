"""Use cases: add and analyze images, sync feeds, manage bundles, check images.

No HTTP and no AWS here: the Chalice handlers and the worker call these functions.
"""
