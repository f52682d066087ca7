"""`jctl test`: scenario files (loader), their execution against the real runner (runner), what they assert
(expectations), what they exercised (coverage) and how results are written (report)."""
