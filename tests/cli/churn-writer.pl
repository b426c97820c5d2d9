#!/usr/bin/perl
# churn-writer.pl OPS SEED OUTSIDE: OPS random changes to the tree in the
# current directory, repeatable from SEED: make and remove directories,
# create, write, append to and delete files, rename files and directories
# within the tree, and move directories out to OUTSIDE (a path outside the
# tree, on the same filesystem) and back in, somewhere. Paths are up to
# three levels deep, drawn from six names, so that the same names come back
# again and again and writers running at once collide. A failed change
# (the path is gone, taken, not empty) is part of the game: it is skipped.
use strict;
use warnings;

my ($ops, $seed, $outside) = @ARGV;
die "usage: churn-writer.pl OPS SEED OUTSIDE\n" unless defined $outside;
srand($seed);
my @names = map { "n$_" } 1 .. 6;

sub randpath {
	my $p = ".";
	$p .= "/" . $names[int rand @names] for 1 .. 1 + int(rand(3));
	return $p;
}

sub write_file {
	my ($path, $mode) = @_;
	open(my $f, $mode, $path) or return;
	print $f "x" x (1 + int rand 64);
	close $f;
}

for (1 .. $ops) {
	my ($op, $a, $b) = (int rand 8, randpath(), randpath());
	if ($op == 0 || $op == 1) { mkdir $a }
	elsif ($op == 2) { rmdir $a }
	elsif ($op == 3) { rename $a, $b }
	elsif ($op == 4) { write_file($a, ">") }
	elsif ($op == 5) { -f $a ? write_file($a, ">>") : unlink $a }
	elsif ($op == 6) { unlink $a }
	# out and back in; when the way back fails it stays out (and blocks
	# the way out) until a later try brings it back in
	elsif ((-d $a && rename $a, $outside) || -d $outside) { rename $outside, $b }
}
# whatever is still out comes back, so that the end state is all inside
rename $outside, "./back-$seed" if -d $outside;
