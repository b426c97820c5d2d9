#!/usr/bin/perl
# churn.pl OPS SEED: OPS random changes to the tree in the current
# directory: mkdir, rmdir, rename (inside, and out to ../outside-SEED and
# back in), create and unlink files, on paths up to three levels deep drawn
# from six names, so that the same names come back again and again.
use strict;
use warnings;
my ($ops, $seed) = @ARGV;
die "usage: churn.pl OPS SEED\n" unless defined $seed;
srand($seed);
my @names = map { "n$_" } 1 .. 6;
my $outside = "../outside-$seed";
sub randpath {
	my $p = ".";
	$p .= "/" . $names[int rand @names] for 1 .. int(rand(4));
	return $p;
}
for (1 .. $ops) {
	my ($op, $a, $b) = (int rand 6, randpath(), randpath());
	if ($op == 0) { mkdir $a }
	elsif ($op == 1) { rmdir $a }
	elsif ($op == 2) { rename $a, $b }
	elsif ($op == 3) { if (open(my $f, ">", $a)) { close $f } }
	elsif ($op == 4) { unlink $a }
	# out and back in; when the way back fails it stays out (and blocks
	# the way out) until a later try brings it back in
	elsif (rename $a, $outside or -d $outside) { rename $outside, $b }
}
