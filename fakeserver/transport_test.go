package fakeserver_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/fakeserver"
)

var _ = Describe("the in-memory transport", func() {
	var (
		srv *fakeserver.Server
		hc  *http.Client
	)
	BeforeEach(func() {
		inProcessOnly("tests the in-memory transport")
		srv = fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 1})
		hc = &http.Client{Transport: srv.Transport(), Timeout: time.Second}
	})
	send := func(method, path, body string) (*http.Response, string, error) {
		req, _ := http.NewRequest(method, "http://fake"+path, strings.NewReader(body))
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		req.Header.Set("X-ZUMO-INSTALLATION-ID", "phone")
		res, err := hc.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b), nil
	}

	It("serves the protocol with no socket, and records the history", func() {
		res, body, err := send("POST", "/tables/todoitem", `{"id":"e1","text":"x"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(201))
		Expect(res.Header.Get("ETag")).To(Equal(`"AAAAAAAAAAE="`))
		Expect(body).To(ContainSubstring(`"text":"x"`))
		res, body, _ = send("GET", "/tables/todoitem", "")
		Expect(res.StatusCode).To(Equal(200))
		Expect(body).To(ContainSubstring(`"id":"e1"`))
		_, body, _ = send("GET", "/_conflictlab/tables/todoitem", "")
		Expect(body).To(ContainSubstring(`"id":"e1"`), "the admin API counts it as loopback")
		Expect(srv.History()).To(HaveLen(2))
		Expect(srv.History()[0].Client).To(Equal("phone"))
	})

	It("turns a fault's hang-up into a network error, after the write for drop-response", func() {
		_, err := srv.Faults().Add(fakeserver.Rule{Action: "drop-response", Match: fakeserver.Match{Times: 1}})
		Expect(err).NotTo(HaveOccurred())
		_, _, err = send("POST", "/tables/todoitem", `{"id":"e1"}`)
		var op *net.OpError
		Expect(errors.As(err, &op)).To(BeTrue(), "got %v", err)
		_, ok := srv.Row("todoitem", "e1")
		Expect(ok).To(BeTrue())
		Expect(srv.History()[0].Faults).To(HaveLen(1))

		_, err = srv.Faults().Add(fakeserver.Rule{Action: "timeout", Match: fakeserver.Match{Times: 1}})
		Expect(err).NotTo(HaveOccurred())
		hc.Timeout = 50 * time.Millisecond
		_, _, err = send("GET", "/tables/todoitem", "")
		var ne net.Error
		Expect(errors.As(err, &ne) && ne.Timeout()).To(BeTrue(), "the client's timeout: %v", err)
	})
})
