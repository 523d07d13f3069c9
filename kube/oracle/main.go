// Command oracle answers, for kgate's differential tests, what kube-apiserver's own code makes of a request: the
// RequestInfo (k8s.io/apiserver's RequestInfoFactory, configured as genericapiserver's NewRequestInfoResolver does)
// and the legacy impersonation filter (filters.WithImpersonation). It is built from the same pinned modules as the
// test kube-apiserver (this Go module), so the answers are kube's, not a re-reading of kube.
//
// Protocol: one JSON object per line on stdin, one JSON answer per line on stdout, in order.
//
//	{"op":"requestinfo","method":"GET","target":"<base64 of the raw request-target bytes>"}
//	  -> {"parseError":"..."} | {"error":"..."} | {"info":{...}}   (+ "invalidUTF8":true if a string was not UTF-8)
//	{"op":"impersonate","requester":{"name":..,"uid":..,"groups":[..],"extra":{..}},"headers":[["Name","value"],...]}
//	  (header names and values are latin1: each char U+0000..U+00FF is one byte on the wire, as Node's rawHeaders)
//	  -> {"status":200,"checks":[...],"user":{...}|null,"body":""} | {"parseError":"..."}
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"unicode/utf8"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2"
)

type input struct {
	Op        string      `json:"op"`
	Method    string      `json:"method"`
	Target    string      `json:"target"`
	Requester userJSON    `json:"requester"`
	Headers   [][2]string `json:"headers"`
}

type userJSON struct {
	Name   string              `json:"name"`
	UID    string              `json:"uid"`
	Groups []string            `json:"groups"`
	Extra  map[string][]string `json:"extra"`
}

type infoJSON struct {
	IsResourceRequest bool     `json:"isResourceRequest"`
	Path              string   `json:"path"`
	Verb              string   `json:"verb"`
	APIPrefix         string   `json:"apiPrefix"`
	APIGroup          string   `json:"apiGroup"`
	APIVersion        string   `json:"apiVersion"`
	Namespace         string   `json:"namespace"`
	Resource          string   `json:"resource"`
	Subresource       string   `json:"subresource"`
	Name              string   `json:"name"`
	Parts             []string `json:"parts"`
	FieldSelector     string   `json:"fieldSelector"`
	LabelSelector     string   `json:"labelSelector"`
}

type checkJSON struct {
	Verb              string `json:"verb"`
	APIGroup          string `json:"apiGroup"`
	APIVersion        string `json:"apiVersion"`
	Resource          string `json:"resource"`
	Subresource       string `json:"subresource"`
	Namespace         string `json:"namespace"`
	Name              string `json:"name"`
	IsResourceRequest bool   `json:"isResourceRequest"`
	Path              string `json:"path"`
}

type answer struct {
	ParseError  string      `json:"parseError,omitempty"`
	Error       string      `json:"error,omitempty"`
	Info        *infoJSON   `json:"info,omitempty"`
	Status      int         `json:"status,omitempty"`
	Checks      []checkJSON `json:"checks,omitempty"`
	User        *userJSON   `json:"user,omitempty"`
	Body        string      `json:"body,omitempty"`
	InvalidUTF8 bool        `json:"invalidUTF8,omitempty"`
}

// impersonateAnswer always carries checks and user (null when the handler was not reached).
type impersonateAnswer struct {
	Status      int         `json:"status"`
	Checks      []checkJSON `json:"checks"`
	User        *userJSON   `json:"user"`
	Body        string      `json:"body"`
	InvalidUTF8 bool        `json:"invalidUTF8,omitempty"`
}

// genericapiserver's NewRequestInfoResolver with kube-apiserver's LegacyAPIGroupPrefixes ("/api").
var resolver = &request.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

func requestInfo(in *input) any {
	target, err := base64.StdEncoding.DecodeString(in.Target)
	if err != nil {
		return answer{ParseError: "oracle: bad base64: " + err.Error()}
	}
	raw := make([]byte, 0, len(in.Method)+len(target)+40)
	raw = append(raw, in.Method...)
	raw = append(raw, ' ')
	raw = append(raw, target...)
	raw = append(raw, " HTTP/1.1\r\nHost: upstream\r\n\r\n"...)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return answer{ParseError: err.Error()}
	}
	info, err := resolver.NewRequestInfo(req)
	if err != nil {
		return answer{Error: err.Error(), InvalidUTF8: !utf8.ValidString(err.Error())}
	}
	out := &infoJSON{
		IsResourceRequest: info.IsResourceRequest, Path: info.Path, Verb: info.Verb, APIPrefix: info.APIPrefix,
		APIGroup: info.APIGroup, APIVersion: info.APIVersion, Namespace: info.Namespace, Resource: info.Resource,
		Subresource: info.Subresource, Name: info.Name, Parts: append([]string{}, info.Parts...),
		FieldSelector: info.FieldSelector, LabelSelector: info.LabelSelector,
	}
	bad := false
	for _, s := range append([]string{out.Path, out.Verb, out.APIPrefix, out.APIGroup, out.APIVersion, out.Namespace,
		out.Resource, out.Subresource, out.Name, out.FieldSelector, out.LabelSelector}, out.Parts...) {
		bad = bad || !utf8.ValidString(s)
	}
	return answer{Info: out, InvalidUTF8: bad}
}

// latin1 turns a string of chars U+0000..U+00FF into those bytes.
func latin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

type recordingAuthorizer struct{ checks *[]checkJSON }

func (r recordingAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	*r.checks = append(*r.checks, checkJSON{
		Verb: a.GetVerb(), APIGroup: a.GetAPIGroup(), APIVersion: a.GetAPIVersion(), Resource: a.GetResource(),
		Subresource: a.GetSubresource(), Namespace: a.GetNamespace(), Name: a.GetName(),
		IsResourceRequest: a.IsResourceRequest(), Path: a.GetPath(),
	})
	return authorizer.DecisionAllow, "", nil
}

var codecs = func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	return serializer.NewCodecFactory(scheme)
}()

func impersonate(in *input) any {
	var raw bytes.Buffer
	raw.WriteString("GET /api/v1/namespaces HTTP/1.1\r\nHost: upstream\r\n")
	for _, h := range in.Headers {
		name, ok1 := latin1(h[0])
		value, ok2 := latin1(h[1])
		if !ok1 || !ok2 {
			return answer{ParseError: "oracle: a header holds a char above U+00FF (send the wire bytes as latin1)"}
		}
		raw.Write(name)
		raw.WriteString(": ")
		raw.Write(value)
		raw.WriteString("\r\n")
	}
	raw.WriteString("\r\n")
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return answer{ParseError: err.Error()}
	}
	requester := &user.DefaultInfo{Name: in.Requester.Name, UID: in.Requester.UID, Groups: in.Requester.Groups, Extra: in.Requester.Extra}
	req = req.WithContext(request.WithUser(req.Context(), requester))

	out := impersonateAnswer{Checks: []checkJSON{}}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := request.UserFrom(r.Context())
		if ok && u != nil {
			extra := map[string][]string{}
			for k, v := range u.GetExtra() {
				extra[k] = append([]string{}, v...)
			}
			out.User = &userJSON{Name: u.GetName(), UID: u.GetUID(), Groups: append([]string{}, u.GetGroups()...), Extra: extra}
		}
		w.WriteHeader(http.StatusOK)
	})
	rec := httptest.NewRecorder()
	filters.WithImpersonation(inner, recordingAuthorizer{&out.Checks}, codecs).ServeHTTP(rec, req)
	out.Status = rec.Code
	if rec.Code != http.StatusOK {
		out.Body = rec.Body.String()
	}
	var strs []string
	for _, c := range out.Checks {
		strs = append(strs, c.Verb, c.APIGroup, c.APIVersion, c.Resource, c.Subresource, c.Namespace, c.Name, c.Path)
	}
	if out.User != nil {
		strs = append(strs, out.User.Name, out.User.UID)
		strs = append(strs, out.User.Groups...)
		for k, v := range out.User.Extra {
			strs = append(strs, k)
			strs = append(strs, v...)
		}
	}
	strs = append(strs, out.Body)
	for _, s := range strs {
		out.InvalidUTF8 = out.InvalidUTF8 || !utf8.ValidString(s)
	}
	return out
}

func main() {
	// kube logs "Couldn't parse request" per undecodable query and HandleError per 500; keep stderr for real failures.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Parse([]string{"-logtostderr=false", "-alsologtostderr=false", "-stderrthreshold=FATAL", "-v=0"})
	klog.SetOutput(io.Discard)
	klog.SetLogger(logr.Discard())

	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	pending := 0
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var msg input
			var ans any
			if jerr := json.Unmarshal(line, &msg); jerr != nil {
				ans = answer{ParseError: "oracle: bad input line: " + jerr.Error()}
			} else {
				switch msg.Op {
				case "requestinfo":
					ans = requestInfo(&msg)
				case "impersonate":
					ans = impersonate(&msg)
				default:
					ans = answer{ParseError: fmt.Sprintf("oracle: unknown op %q", msg.Op)}
				}
			}
			if eerr := enc.Encode(ans); eerr != nil {
				fmt.Fprintln(os.Stderr, "oracle: encode:", eerr)
				os.Exit(1)
			}
			pending++
		}
		// Flush when the input we already hold is used up (interactive use, end of a batch), or every 4096 answers.
		if err != nil || in.Buffered() == 0 || pending >= 4096 {
			if ferr := out.Flush(); ferr != nil {
				os.Exit(1)
			}
			pending = 0
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintln(os.Stderr, "oracle: read:", err)
				os.Exit(1)
			}
			return
		}
	}
}
