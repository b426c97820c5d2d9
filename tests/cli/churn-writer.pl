#!/usr/bin/perl
# churn-writer.pl OPS SEED OUTSIDE [LOG]: OPS random changes to the tree in the
# current directory, repeatable from SEED: make and remove directories,
# create, write, append to and delete files, rename files and directories
# within the tree, and move directories out to OUTSIDE (a path outside the
# tree, on the same filesystem) and back in, somewhere. Paths are up to
# three levels deep, drawn from six names, so that the same names come back
# again and again and writers running at once collide. A failed change
# (the path is gone, taken, not empty) is part of the game: it is skipped.
# With LOG, each change that took effect is written there, a line each
# ("rename ./n1 ./n2/n3", "out ./n4", "in ./n5"): with one writer the run
# is the same every time from its SEED, and the log is what happened.
use strict;
use warnings;

my ($ops, $seed, $outside, $log) = @ARGV;
die "usage: churn-writer.pl OPS SEED OUTSIDE [LOG]\n" unless defined $outside;
srand($seed);
my @names = map { "n$_" } 1 .. 6;
my $logf;
if (defined $log) { open($logf, ">", $log) or die "churn-writer.pl: '$log': $!\n" }

# did WHAT, OK: say WHAT in the log if it took effect; OK.
sub did { my ($what, $ok) = @_; print $logf "$what\n" if $ok && $logf; return $ok }

sub randpath {
	my $p = ".";
	$p .= "/" . $names[int rand @names] for 1 .. 1 + int(rand(3));
	return $p;
}

sub write_file {
	my ($path, $mode) = @_;
	open(my $f, $mode, $path) or return 0;
	print $f "x" x (1 + int rand 64);
	close $f;
	return 1;
}

for (1 .. $ops) {
	my ($op, $a, $b) = (int rand 8, randpath(), randpath());
	if ($op == 0 || $op == 1) { did("mkdir $a", mkdir $a) }
	elsif ($op == 2) { did("rmdir $a", rmdir $a) }
	elsif ($op == 3) { did("rename $a $b", rename $a, $b) }
	elsif ($op == 4) { did("write $a", write_file($a, ">")) }
	elsif ($op == 5) { -f $a ? did("append $a", write_file($a, ">>")) : did("unlink $a", unlink $a) }
	elsif ($op == 6) { did("unlink $a", unlink $a) }
	# out and back in; when the way back fails it stays out (and blocks
	# the way out) until a later try brings it back in
	elsif (did("out $a", -d $a && rename $a, $outside) || -d $outside) {
		did("in $b", rename $outside, $b);
	}
}
# whatever is still out comes back, so that the end state is all inside
did("in ./back-$seed", rename $outside, "./back-$seed") if -d $outside;
