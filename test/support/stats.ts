/**
 * Statistics for tests: a one-sample Kolmogorov-Smirnov statistic and the gamma CDF it is
 * compared against.
 */

/** Returns the KS statistic D of the samples against a continuous CDF. */
export function ksStatistic(samples: number[], cdf: (x: number) => number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  });
  return d;
}

/** Critical value of D at significance 0.01 for large samples (Smirnov's asymptotic form). */
export function ksCritical01(n: number): number {
  return 1.628 / Math.sqrt(n);
}

/** CDF of the gamma distribution with the given shape and scale: the regularized P(shape, x / scale). */
export function gammaCdf(x: number, shape: number, scale: number): number {
  if (x <= 0) return 0;
  return regularizedLowerGamma(shape, x / scale);
}

function regularizedLowerGamma(a: number, x: number): number {
  if (x < a + 1) {
    // Series: P(a, x) = e^-x x^a / Gamma(a + 1) * sum x^n / ((a + 1)...(a + n)).
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  return 1 - upperGammaContinuedFraction(a, x);
}

/** Q(a, x) by Lentz's continued fraction, for x >= a + 1. */
function upperGammaContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** ln Gamma(z) by the Lanczos approximation (g = 7, 9 coefficients). */
export function logGamma(z: number): number {
  const g = 7;
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let sum = coefficients[0]!;
  for (let i = 1; i < g + 2; i++) sum += coefficients[i]! / (x + i);
  const t = x + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}
