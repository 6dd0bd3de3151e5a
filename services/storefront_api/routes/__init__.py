"""The storefront API's routers, one per area; create_app (app.py) includes them all."""
