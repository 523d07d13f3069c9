// Load generator for the "new TLS connection per request" scenario of bench/compare: -c loops, each opening a
// connection, doing a full TLS 1.3 handshake (X25519, server certificate verified against -ca, no session
// resumption: no client session cache, so every connection is a new client, as separate kubectl invocations are),
// sending one GET with "Connection: close", reading the whole response and closing, for -d. Without -ca the
// connection is plain TCP. Written in Go because a Node (OpenSSL 3) client spends about 1.1 ms of CPU per
// handshake, as much as the servers measured, so it would cap the scenario; this one spends a fraction of that.
// Prints one JSON line: requests, errors, lastError, seconds, rps, p50ms, p99ms (dial to last response byte),
// clientCpuUs (this process's CPU time per request).
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:443", "host:port")
	caFile := flag.String("ca", "", "CA bundle; TLS when set, plain TCP otherwise")
	path := flag.String("path", "/", "request path")
	seconds := flag.Float64("d", 8, "duration in seconds")
	concurrency := flag.Int("c", 50, "concurrent clients")
	var hs headers
	flag.Var(&hs, "H", "request header (repeatable)")
	flag.Parse()

	var cfg *tls.Config
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail(fmt.Errorf("no certificate in %s", *caFile))
		}
		cfg = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}, NextProtos: []string{"http/1.1"}}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", *path, *addr)
	for _, h := range hs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	request := []byte(b.String())

	one := func() error {
		raw, err := net.DialTimeout("tcp", *addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(30 * time.Second))
		conn := raw
		if cfg != nil {
			t := tls.Client(raw, cfg)
			if err := t.Handshake(); err != nil {
				return err
			}
			conn = t
		}
		if _, err := conn.Write(request); err != nil {
			return err
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode != 200 {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		if res.ContentLength >= 0 && n != res.ContentLength {
			return fmt.Errorf("%d of %d body bytes", n, res.ContentLength)
		}
		return nil
	}

	var mu sync.Mutex
	var latencies []float64
	errors := 0
	lastError := ""
	start := time.Now()
	end := start.Add(time.Duration(*seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < *concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := one(); err != nil {
					mu.Lock()
					errors++
					lastError = err.Error()
					mu.Unlock()
					continue
				}
				mine = append(mine, float64(time.Since(t0).Microseconds())/1000)
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpuUs := float64(ru.Utime.Sec*1e6+ru.Utime.Usec+ru.Stime.Sec*1e6+ru.Stime.Usec) / float64(max(1, len(latencies)))
	sort.Float64s(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p/100*float64(len(latencies))))]
	}
	out, _ := json.Marshal(map[string]any{
		"requests": len(latencies), "errors": errors, "lastError": lastError, "seconds": elapsed,
		"rps": float64(len(latencies)) / elapsed, "p50ms": pct(50), "p99ms": pct(99), "clientCpuUs": cpuUs,
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
