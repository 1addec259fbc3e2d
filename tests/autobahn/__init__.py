"""The Autobahn|Testsuite cases, run by ``kosoku`` against rawpush's servers and client."""
