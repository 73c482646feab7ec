"""What every HTTP layer shares: errors, security headers, CORS, HTTP caching, hot reads."""
