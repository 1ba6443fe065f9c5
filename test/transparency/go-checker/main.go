// Command go-checker verifies a membership drive's transparency log with Go's reference
// implementations of signed notes and transparency logs (golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog, which the Go checksum database runs on), reading only the service's
// public API. It shares no code with the service or with bin/drive-verify-core.mjs: when it accepts
// a log, the log speaks the standard formats, not just our own reading of them.
//
//	go-checker -url http://127.0.0.1:3000 -slug birthday -vkey <vkey> [-vkey <vkey>] [-witness <vkey>]
//
// It checks that
//   - every checkpoint is a signed note (note.Open) signed by one of the given verifier keys, under
//     the key name that is its origin, `<host>/drive/<slug>`, and the plain /checkpoint is the latest;
//   - each checkpoint's tree contains the one before (tlog.CheckTree, on the service's consistency
//     proofs);
//   - the public leaves hash (tlog.RecordHash, tlog.StoredHashes, tlog.TreeHash) to every
//     checkpoint's root;
//   - every leaf's inclusion proof in the latest tree verifies (tlog.CheckRecord);
//   - with -witness: the latest checkpoint carries a valid cosignature by each witness given
//     (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1, verified by
//     github.com/transparency-dev/formats/note.NewVerifierForCosignatureV1 through note.Open).
//
// Exit 0 and "OK" when all of it holds; 1 with the first failure; 2 on bad arguments.
package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	cosig "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type vkeyList []string

func (v *vkeyList) String() string     { return strings.Join(*v, ",") }
func (v *vkeyList) Set(s string) error { *v = append(*v, s); return nil }

type leaf struct {
	Index      int64  `json:"index"`
	Kind       string `json:"kind"`
	Commitment string `json:"commitment"`
	Revokes    *int64 `json:"revokes"`
	// Data is the exact text hashed, served for leaves of other kinds (offset changes): to this
	// checker those are opaque records, as any tlog tool treats a log's records.
	Data string `json:"data"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

var client = &http.Client{Timeout: 20 * time.Second}

func main() {
	base := flag.String("url", "", "the service's base URL")
	slug := flag.String("slug", "", "the campaign's slug")
	var vkeys vkeyList
	flag.Var(&vkeys, "vkey", "a verifier key of the log (repeatable)")
	var witnesses vkeyList
	flag.Var(&witnesses, "witness", "a witness's cosignature/v1 vkey whose cosignature the latest checkpoint must carry (repeatable)")
	flag.Parse()
	if *base == "" || *slug == "" || len(vkeys) == 0 {
		fmt.Fprintln(os.Stderr, "usage: go-checker -url <service> -slug <campaign> -vkey <vkey> [-vkey ...]")
		os.Exit(2)
	}
	var verifiers []note.Verifier
	for _, vkey := range vkeys {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad verifier key %q: %v\n", vkey, err)
			os.Exit(2)
		}
		verifiers = append(verifiers, v)
	}
	var cosigners []note.Verifier
	for _, vkey := range witnesses {
		v, err := cosig.NewVerifierForCosignatureV1(vkey)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad witness key %q: %v\n", vkey, err)
			os.Exit(2)
		}
		cosigners = append(cosigners, v)
	}
	if err := check(strings.TrimSuffix(*base, "/"), *slug, note.VerifierList(verifiers...)); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	if err := checkCosignatures(strings.TrimSuffix(*base, "/"), *slug, verifiers, cosigners); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("OK")
}

func check(base, slug string, verifiers note.Verifiers) error {
	prefix := base + "/campaigns/" + url.PathEscape(slug) + "/transparency"
	var listed struct {
		Checkpoints []struct {
			Note string `json:"note"`
		} `json:"checkpoints"`
	}
	if err := getJSON(prefix+"/checkpoints", &listed); err != nil {
		return err
	}
	if len(listed.Checkpoints) == 0 {
		return fmt.Errorf("no checkpoints")
	}
	var chain []checkpoint
	for i, c := range listed.Checkpoints {
		cp, err := open(c.Note, slug, verifiers)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %v", i, err)
		}
		if i > 0 && cp.origin != chain[0].origin {
			return fmt.Errorf("checkpoint %d is of another log: %s", i, cp.origin)
		}
		chain = append(chain, cp)
	}
	latest := chain[len(chain)-1]
	plain, err := get(prefix + "/checkpoint")
	if err != nil {
		return err
	}
	if plain != listed.Checkpoints[len(chain)-1].Note {
		return fmt.Errorf("the plain /checkpoint is not the latest listed one")
	}
	fmt.Printf("origin: %s\ncheckpoints: %d, latest size %d, root %s\n", latest.origin, len(chain), latest.size, latest.root)

	proofs := 0
	for i := 1; i < len(chain); i++ {
		old, cur := chain[i-1], chain[i]
		if old.size == 0 {
			continue // the empty tree is a prefix of every tree
		}
		if old.size > cur.size {
			return fmt.Errorf("checkpoint %d: the log shrank", i)
		}
		var proof struct {
			Path []string `json:"path"`
		}
		q := fmt.Sprintf("%s/consistency?first=%d&second=%d", prefix, old.size, cur.size)
		if err := getJSON(q, &proof); err != nil {
			return err
		}
		p, err := hashes(proof.Path)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(tlog.TreeProof(p), cur.size, cur.root, old.size, old.root); err != nil {
			return fmt.Errorf("checkpoint %d does not contain checkpoint %d: %v", i, i-1, err)
		}
		proofs++
	}
	fmt.Printf("consistency: %d proofs verified\n", proofs)

	leaves, err := allLeaves(prefix, latest.size)
	if err != nil {
		return err
	}
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("no stored hash %d", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	record := make([]tlog.Hash, len(leaves))
	sizes := map[int64][]int{}
	for i, c := range chain {
		sizes[c.size] = append(sizes[c.size], i)
	}
	checkRoots := func(n int64) error {
		for _, i := range sizes[n] {
			root, err := tlog.TreeHash(n, reader)
			if err != nil {
				return err
			}
			if root != chain[i].root {
				return fmt.Errorf("the first %d leaves do not hash to checkpoint %d's root", n, i)
			}
		}
		return nil
	}
	if err := checkRoots(0); err != nil {
		return err
	}
	for n, l := range leaves {
		data, err := leafData(l, int64(n))
		if err != nil {
			return err
		}
		record[n] = tlog.RecordHash([]byte(data))
		more, err := tlog.StoredHashesForRecordHash(int64(n), record[n], reader)
		if err != nil {
			return err
		}
		stored = append(stored, more...)
		if err := checkRoots(int64(n) + 1); err != nil {
			return err
		}
	}
	fmt.Printf("leaves: %d hash to every checkpoint's root\n", len(leaves))

	for n, l := range leaves {
		var proof struct {
			Index int64    `json:"index"`
			Path  []string `json:"path"`
		}
		q := fmt.Sprintf("%s/inclusion?commitment=%s&treeSize=%d", prefix, l.Commitment, latest.size)
		if err := getJSON(q, &proof); err != nil {
			return err
		}
		p, err := hashes(proof.Path)
		if err != nil {
			return err
		}
		if proof.Index != int64(n) {
			return fmt.Errorf("the inclusion proof of leaf %d is for leaf %d", n, proof.Index)
		}
		if err := tlog.CheckRecord(tlog.RecordProof(p), latest.size, latest.root, int64(n), record[n]); err != nil {
			return fmt.Errorf("leaf %d is not proven in the latest tree: %v", n, err)
		}
	}
	fmt.Printf("inclusion: %d proofs verified\n", len(leaves))
	return nil
}

var sizeLine = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// open verifies a signed note and reads its checkpoint (c2sp.org/tlog-checkpoint): origin, tree
// size, base64 root, then extension lines, which this checker does not interpret.
func open(text, slug string, verifiers note.Verifiers) (checkpoint, error) {
	n, err := note.Open([]byte(text), verifiers)
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || !sizeLine.MatchString(lines[1]) {
		return checkpoint{}, fmt.Errorf("not a checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, err
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, err
	}
	origin := lines[0]
	if !strings.HasSuffix(origin, "/drive/"+slug) {
		return checkpoint{}, fmt.Errorf("origin %s is not campaign %s", origin, slug)
	}
	for _, sig := range n.Sigs {
		if sig.Name != origin {
			return checkpoint{}, fmt.Errorf("signed as %s, not as its origin %s", sig.Name, origin)
		}
	}
	return checkpoint{origin: origin, size: size, root: root}, nil
}

// leafData is what a leaf says, as hashed: `add <commitment>` or `revoke <commitment> <index>`;
// another kind's record is its `data`, taken as it is.
func leafData(l leaf, n int64) (string, error) {
	if l.Index != n || len(l.Commitment) != 64 {
		return "", fmt.Errorf("leaf %d is malformed", n)
	}
	if _, err := hex.DecodeString(l.Commitment); err != nil || strings.ToLower(l.Commitment) != l.Commitment {
		return "", fmt.Errorf("leaf %d: the commitment is not lowercase hex", n)
	}
	switch {
	case l.Kind == "add" && l.Revokes == nil:
		return "add " + l.Commitment, nil
	case l.Kind == "revoke" && l.Revokes != nil:
		return fmt.Sprintf("revoke %s %d", l.Commitment, *l.Revokes), nil
	case l.Kind != "add" && l.Kind != "revoke" && l.Data != "":
		return l.Data, nil
	}
	return "", fmt.Errorf("leaf %d is of no known kind", n)
}

func allLeaves(prefix string, size int64) ([]leaf, error) {
	var leaves []leaf
	for int64(len(leaves)) < size {
		var page struct {
			Leaves []leaf `json:"leaves"`
		}
		if err := getJSON(fmt.Sprintf("%s/leaves?start=%d&end=%d", prefix, len(leaves), size), &page); err != nil {
			return nil, err
		}
		if len(page.Leaves) == 0 {
			return nil, fmt.Errorf("the leaves stop at %d of %d", len(leaves), size)
		}
		leaves = append(leaves, page.Leaves...)
	}
	return leaves[:size], nil
}

func hashes(path []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(path))
	for i, h := range path {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %q is not 32 bytes of hex", h)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func get(u string) (string, error) {
	res, err := client.Get(u)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, res.Status)
	}
	return string(body), nil
}

func getJSON(u string, into any) error {
	body, err := get(u)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), into)
}

// checkCosignatures opens the latest checkpoint with the log's keys and the witnesses' together:
// note.Open verifies every signature line whose name and key id match a known key (a cosignature/v1
// verifier for each witness) and refuses the note if one of them fails; each witness must then be
// among the verified signatures.
func checkCosignatures(base, slug string, logKeys, cosigners []note.Verifier) error {
	if len(cosigners) == 0 {
		return nil
	}
	text, err := get(base + "/campaigns/" + url.PathEscape(slug) + "/transparency/checkpoint")
	if err != nil {
		return err
	}
	n, err := note.Open([]byte(text), note.VerifierList(append(append([]note.Verifier{}, logKeys...), cosigners...)...))
	if err != nil {
		return fmt.Errorf("the latest checkpoint with its cosignatures: %v", err)
	}
	for _, w := range cosigners {
		found := false
		for _, sig := range n.Sigs {
			if sig.Name == w.Name() && sig.Hash == w.KeyHash() {
				when, err := cosig.CoSigV1Timestamp(sig)
				if err != nil {
					return err
				}
				fmt.Printf("cosigned: %s at %s\n", sig.Name, when.UTC().Format(time.RFC3339))
				found = true
			}
		}
		if !found {
			return fmt.Errorf("the latest checkpoint has no cosignature by witness %s", w.Name())
		}
	}
	return nil
}
