package e2ee

// Test scaffolding only: affine Edwards25519 arithmetic over math/big, to
// check the small-order constants of accept.go from first principles and to
// build the edge-case signatures of the acceptance vectors (a torsion
// component in R or A), which no standard-library API can produce. It is
// slow and not constant-time, and it never runs outside tests.

import (
	"math/big"
)

var (
	edP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	edL = func() *big.Int {
		l, _ := new(big.Int).SetString("27742317777372353535851937790883648493", 10)
		return l.Add(l, new(big.Int).Lsh(big.NewInt(1), 252))
	}()
	edD = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), edP)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, edP)
	}()
)

type edPoint struct{ x, y *big.Int }

func edIdentity() edPoint { return edPoint{big.NewInt(0), big.NewInt(1)} }

func edBase() edPoint {
	y := new(big.Int).ModInverse(big.NewInt(5), edP)
	y.Mul(y, big.NewInt(4)).Mod(y, edP)
	var b [32]byte
	copy(b[:], leBytes(y))
	p, _ := edDecode(b[:])
	return p
}

func leBytes(n *big.Int) []byte {
	be := n.FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

func leInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

// edDecode decodes like RFC 8032 §5.1.3 but, like Go and many libraries,
// without refusing y ≥ p (it reduces y), so it can decode what a
// permissive verifier decodes.
func edDecode(b []byte) (edPoint, bool) {
	c := append([]byte{}, b...)
	sign := c[31] >> 7
	c[31] &= 0x7f
	y := leInt(c)
	y.Mod(y, edP)
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Mul(edD, y2)
	v.Add(v, big.NewInt(1))
	x2 := new(big.Int).Mul(u, new(big.Int).ModInverse(v.Mod(v, edP), edP))
	x2.Mod(x2, edP)
	x := new(big.Int).ModSqrt(x2, edP)
	if x == nil {
		return edPoint{}, false
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(edP, x).Mod(x, edP)
	}
	return edPoint{x, y}, true
}

func (p edPoint) encode() []byte {
	b := leBytes(p.y)
	b[31] |= byte(p.x.Bit(0)) << 7
	return b
}

func (p edPoint) add(q edPoint) edPoint {
	t := new(big.Int).Mul(p.x, q.x)
	t.Mul(t, p.y).Mul(t, q.y).Mul(t, edD).Mod(t, edP)
	xn := new(big.Int).Add(new(big.Int).Mul(p.x, q.y), new(big.Int).Mul(p.y, q.x))
	yn := new(big.Int).Add(new(big.Int).Mul(p.y, q.y), new(big.Int).Mul(p.x, q.x))
	xd := new(big.Int).Add(big.NewInt(1), t)
	yd := new(big.Int).Sub(big.NewInt(1), t)
	x := xn.Mul(xn, xd.ModInverse(xd.Mod(xd, edP), edP)).Mod(xn, edP)
	y := yn.Mul(yn, yd.ModInverse(yd.Mod(yd, edP), edP)).Mod(yn, edP)
	return edPoint{x, y}
}

func (p edPoint) mul(k *big.Int) edPoint {
	r := edIdentity()
	for i := k.BitLen() - 1; i >= 0; i-- {
		r = r.add(r)
		if k.Bit(i) == 1 {
			r = r.add(p)
		}
	}
	return r
}

func (p edPoint) isIdentity() bool { return p.x.Sign() == 0 && p.y.Cmp(big.NewInt(1)) == 0 }
