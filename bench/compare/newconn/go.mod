// The load generator of bench/compare's "new TLS connection per request" scenario (standard library only).
module kgate.local/bench/compare/newconn

go 1.24
