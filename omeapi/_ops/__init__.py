"""What operators watch: an access log line and Prometheus metrics per request.

Both are *observers*: callables the handler calls after each request with the request,
the response and the seconds it took (:data:`omeapi._handler.Observer`).  With none, the
handler does not even read the clock.
"""
