#!/usr/bin/perl
# churn-fast.pl LIMIT SEED OUTSIDE [LOG]: the fast churn writer. Changes the
# tree in the current directory at full speed, as real churn looks, until
# LIMIT: a number of changes ("3000"), or of seconds ("10s"). Unlike
# churn-writer.pl it never lists the tree: it keeps its own list of the
# directories it made, follows its own renames in it, and forgets a
# directory when a change to it fails (another writer renamed or removed it
# meanwhile). The changes:
#  - a file created, or appended to (one of the last it made);
#  - a directory made, half of the time as NAME/a/b with a file f in it;
#  - a directory renamed anywhere in the tree (never into itself);
#  - a directory removed with everything in it;
#  - a directory moved out to OUTSIDE (beside the tree, same filesystem),
#    a file and a directory made in it there, then moved back in, under a
#    new name, somewhere.
# Names are unique to the writer (f2_17, d2_18, b2_19 for writer seed ..2),
# so that a path names one thing for the whole run; what collides is the
# directories, renamed into and removed from under each other's work.
# With LOG, each change that took effect is written there, a line each.
# Prints "churn-fast: N changes" on stdout at the end.
use strict;
use warnings;
use File::Path qw(remove_tree);
use Time::HiRes qw(time);

my ($limit, $seed, $outside, $log) = @ARGV;
die "usage: churn-fast.pl LIMIT SEED OUTSIDE [LOG]\n"
	unless defined $outside && $limit =~ /^(\d+)(s?)$/;
my ($count, $seconds) = $2 ? (0, $1) : ($1, 0);
srand($seed);
my $tag = $seed % 10; # the writer's number, the last digit of its seed
my $logf;
if (defined $log) { open($logf, ">", $log) or die "churn-fast.pl: '$log': $!\n" }

my @dirs = (".");  # directories this writer made, as it believes they are
my @files;         # the last files it made, for appends
my $serial = 0;
my $changes = 0;

sub fresh { return $_[0] . $tag . "_" . ++$serial }
sub did { my ($what, $ok) = @_; if ($ok) { $changes++; print $logf "$what\n" if $logf } return $ok }

# forget P and what is below it
sub forget {
	my ($p) = @_;
	@dirs = grep { $_ eq "." || ($_ ne $p && index($_, "$p/") != 0) } @dirs;
}

# P and what is below it now live at Q
sub follow {
	my ($p, $q) = @_;
	for (@dirs) {
		if ($_ eq $p) { $_ = $q }
		elsif (index($_, "$p/") == 0) { $_ = $q . substr($_, length $p) }
	}
}

sub depth { return ($_[0] =~ tr{/}{}) }

# a directory of the list, not too deep to put things in
sub some_dir {
	for (1 .. 4) {
		my $d = $dirs[int rand @dirs];
		return $d if depth($d) < 12;
	}
	return ".";
}

# a directory of the list other than the root, or undef
sub some_subdir { return @dirs > 1 ? $dirs[1 + int rand(@dirs - 1)] : undef }

sub write_file {
	my ($path, $mode) = @_;
	open(my $f, $mode, $path) or return 0;
	print $f "x" x (1 + int rand 64);
	close $f;
	return 1;
}

sub make_file {
	my $p = some_dir() . "/" . fresh("f");
	if (did("write $p", write_file($p, ">"))) {
		push @files, $p;
		shift @files if @files > 32;
	}
}

sub append_file {
	return make_file() unless @files;
	my $i = int rand @files;
	did("append $files[$i]", -f $files[$i] && write_file($files[$i], ">>"))
		or splice(@files, $i, 1);
}

sub make_dir {
	my $parent = some_dir();
	my $p = "$parent/" . fresh("d");
	unless (did("mkdir $p", mkdir $p)) { forget($parent) unless -d $parent; return }
	push @dirs, $p;
	return if rand() < 0.5;
	# a nest at once: NAME/a/b/f
	did("mkdir $p/a", mkdir "$p/a") or return;
	push @dirs, "$p/a";
	did("mkdir $p/a/b", mkdir "$p/a/b") or return;
	push @dirs, "$p/a/b";
	did("write $p/a/b/f", write_file("$p/a/b/f", ">"));
}

# a place for P to go: a directory of the list not inside P, and a new name
sub new_home {
	my ($p) = @_;
	for (1 .. 4) {
		my $d = some_dir();
		return "$d/" . fresh("b") if $d ne $p && index($d, "$p/") != 0;
	}
	return "./" . fresh("b");
}

sub rename_dir {
	my $p = some_subdir() // return make_dir();
	my $q = new_home($p);
	if (did("rename $p $q", rename $p, $q)) { follow($p, $q) } else { forget($p) }
}

sub remove_dir {
	my $p = some_subdir() // return make_dir();
	remove_tree($p, {error => \my $err});
	did("rmtree $p", !-e $p);
	forget($p);
}

sub out_and_back {
	my $p = some_subdir() // return make_dir();
	unless (did("out $p", rename $p, $outside)) { forget($p); return }
	forget($p);
	my $f = fresh("f");
	did("write OUT/$f", write_file("$outside/$f", ">"));
	my $d = fresh("d");
	did("mkdir OUT/$d", mkdir "$outside/$d");
	# back in where it was meant to go, or else at the top (or, if that
	# fails too, at the end of the run)
	for my $q (new_home($p), "./" . fresh("b")) {
		next unless did("in $q", rename $outside, $q);
		push @dirs, $q, "$q/$d";
		last;
	}
}

my $end = $seconds ? time() + $seconds : 0;
my $ops = 0;
while ($seconds ? ($ops % 64 || time() < $end) : $ops < $count) {
	$ops++;
	my $r = rand 100;
	if ($r < 30) { make_file() }
	elsif ($r < 45) { append_file() }
	elsif ($r < 70) { @dirs > 400 ? remove_dir() : make_dir() }
	elsif ($r < 85) { rename_dir() }
	elsif ($r < 93) { remove_dir() }
	else { out_and_back() }
}
# whatever is still out comes back, so that the end state is all inside
did("in ./back-$seed", rename $outside, "./back-$seed") if -d $outside;
print "churn-fast: $changes changes\n";
