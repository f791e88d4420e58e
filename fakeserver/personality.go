package fakeserver

import (
	"fmt"
	"strings"
)

// Personality is whose observable behaviour the server reproduces where real servers differ
// from docs/protocol.md. The default ("") is the protocol as docs/protocol.md writes it; "node" is the
// Azure Mobile Apps Node backend (azure-mobile-apps 4.0.2 with its sqlite provider, dynamic
// schema and soft delete), quirks and bugs included, so a client can be tested against Node's
// behaviour in process. docs/personalities.md lists every difference.
type Personality string

const (
	// PersonalityDefault is the protocol as docs/protocol.md writes it.
	PersonalityDefault Personality = ""
	// PersonalityNode is azure-mobile-apps 4.0.2 (Node) on sqlite.
	PersonalityNode Personality = "node"
)

// ParsePersonality reads "default" (or "") and "node", case-insensitively.
func ParsePersonality(s string) (Personality, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default", "fake", "conflictlab":
		return PersonalityDefault, nil
	case "node":
		return PersonalityNode, nil
	}
	return "", fmt.Errorf("unknown personality %q (want default or node)", s)
}

// checkPersonality refuses combinations the personality has no answer for.
func (c Config) checkPersonality() error {
	switch c.Personality {
	case PersonalityDefault:
		return nil
	case PersonalityNode:
		if c.Dialect != V2 {
			return fmt.Errorf("fakeserver: the node personality speaks v2 only (azure-mobile-apps 4 refuses requests without ZUMO-API-VERSION 2.0.0)")
		}
		if c.Upstream != "" {
			return fmt.Errorf("fakeserver: a proxy answers as its upstream does; a personality does not apply to it")
		}
		if c.HardDelete || len(c.HardDeleteTables) > 0 || c.DeleteNoContent {
			return fmt.Errorf("fakeserver: the node personality models tables with soft delete; HardDelete, HardDeleteTables and DeleteNoContent do not apply")
		}
		return nil
	}
	return fmt.Errorf("fakeserver: unknown personality %q (want \"\" or %q)", c.Personality, PersonalityNode)
}

// node reports whether the server plays the Node backend.
func (s *Server) node() bool { return s.cfg.Personality == PersonalityNode }
