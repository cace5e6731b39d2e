"""Per-route CORS: the platform answers preflights itself, as API Gateway
does when CORS is configured, and adds the allow-origin header to the
function's responses."""

from django.http import HttpRequest, HttpResponse


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


def origin_allowed(route, origin: str) -> bool:
    allowed = _items(route.cors_allow_origins)
    return bool(origin) and ("*" in allowed or origin in allowed)


def _allow_origin_value(route, origin: str) -> str:
    # A wildcard cannot be sent with credentials: echo the origin instead.
    if "*" in _items(route.cors_allow_origins) and not route.cors_allow_credentials:
        return "*"
    return origin


def is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and "origin" in request.headers
        and "access-control-request-method" in request.headers
    )


def preflight_response(route, request: HttpRequest) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Vary"] = "Origin"
    origin = request.headers.get("origin", "")
    if not origin_allowed(route, origin):
        return response
    response["Access-Control-Allow-Origin"] = _allow_origin_value(route, origin)
    methods = _items(route.cors_allow_methods) or [
        request.headers["access-control-request-method"].upper()
    ]
    response["Access-Control-Allow-Methods"] = ",".join(m.upper() for m in methods)
    headers = _items(route.cors_allow_headers)
    requested = request.headers.get("access-control-request-headers", "")
    if "*" in headers and requested:
        response["Access-Control-Allow-Headers"] = requested
    elif headers:
        response["Access-Control-Allow-Headers"] = ",".join(headers)
    if route.cors_max_age is not None:
        response["Access-Control-Max-Age"] = str(route.cors_max_age)
    if route.cors_allow_credentials:
        response["Access-Control-Allow-Credentials"] = "true"
    return response


def decorate(route, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Add CORS headers to an actual response when the origin is allowed;
    the route's settings override what the function sent."""
    origin = request.headers.get("origin", "")
    if not route.has_cors:
        return response
    response["Vary"] = "Origin"
    if not origin_allowed(route, origin):
        return response
    response["Access-Control-Allow-Origin"] = _allow_origin_value(route, origin)
    expose = _items(route.cors_expose_headers)
    if expose:
        response["Access-Control-Expose-Headers"] = ",".join(expose)
    if route.cors_allow_credentials:
        response["Access-Control-Allow-Credentials"] = "true"
    return response
